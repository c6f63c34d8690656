import { describe, expect, it } from 'vitest';
import { findLiteralPassword, variableBase } from './connection.js';

describe('findLiteralPassword', () => {
  it.each([
    [
      'postgres://app:hunter2@db:5432/orders',
      'postgres://app:[REDACTED]@db:5432/orders',
      'postgres://app:${env:X_PASSWORD}@db:5432/orders',
    ],
    [
      'redis://:pw@cache:6379/0',
      'redis://:[REDACTED]@cache:6379/0',
      'redis://:${env:X_PASSWORD}@cache:6379/0',
    ],
    ['mysql://u:p@ss@h/db', 'mysql://u:[REDACTED]@h/db', 'mysql://u:${env:X_PASSWORD}@h/db'],
    [
      'postgres://h/db?user=u&password=pw&sslmode=require',
      'postgres://h/db?user=u&password=[REDACTED]&sslmode=require',
      'postgres://h/db?user=u&password=${env:X_PASSWORD}&sslmode=require',
    ],
    [
      'host=h user=u password=pw dbname=d',
      'host=h user=u password=[REDACTED] dbname=d',
      'host=h user=u password=${env:X_PASSWORD} dbname=d',
    ],
    [
      "host=h password='a b' dbname=d",
      'host=h password=[REDACTED] dbname=d',
      'host=h password=${env:X_PASSWORD} dbname=d',
    ],
    [
      'Server=h;Pwd=pw;Database=d',
      'Server=h;Pwd=[REDACTED];Database=d',
      'Server=h;Pwd=${env:X_PASSWORD};Database=d',
    ],
    [
      'postgres://u:${env:A}x@h/${env:DB}',
      'postgres://u:[REDACTED]@h/${env:DB}',
      'postgres://u:${env:X_PASSWORD}@h/${env:DB}',
    ],
  ])('finds the password in %s', (connection, masked, suggestion) => {
    expect(findLiteralPassword(connection, 'X')).toEqual({
      masked,
      suggestion,
      variable: 'X_PASSWORD',
    });
  });

  it.each([
    'postgres://app:${env:PG_PASSWORD}@db:5432/orders',
    'postgres://app:${file:secrets/pg}${env:SUFFIX}@db/orders',
    'postgres://app@db/orders',
    'postgres://db:5432/orders',
    'postgres://db/orders?user=me@example.com',
    'redis://cache:6379/0',
    '${env:ORDERS_URL}',
    './data/app.sqlite',
    '/var/lib/uploads',
    'host=h user=u password=${env:PW} dbname=d',
    "host=h user=u password='' dbname=d",
    'postgres://u:${file:a@b#c}@h/db',
  ])('accepts %s', (connection) => {
    expect(findLiteralPassword(connection, 'X')).toBeUndefined();
  });
});

describe('variableBase', () => {
  it('upper-cases and joins with underscores', () => {
    expect(variableBase('orders-db', 'production')).toBe('ORDERS_DB_PRODUCTION');
    expect(variableBase('a.b', 'c')).toBe('A_B_C');
  });
});
