import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Makes sure `.gitignore` in `dir` ignores the state directory (keys, state store, backups).
 * Returns true when it changed the file.
 */
export async function ensureGitignore(dir: string, entry = '.shipshape/'): Promise<boolean> {
  const file = join(dir, '.gitignore');
  const current = await readFile(file, 'utf8').catch(() => '');
  const lines = current.split(/\r?\n/).map((l) => l.trim());
  if (lines.includes(entry) || lines.includes(entry.replace(/\/$/, ''))) return false;
  const prefix = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  await writeFile(
    file,
    `${prefix}# shipshape: state store, private keys, local backups\n${entry}\n`,
  );
  return true;
}
