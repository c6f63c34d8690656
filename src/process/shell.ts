/** Characters that make a command line more than one simple command (quoted or not: we stay safe). */
const COMPOUND = /[;&|<>()`\n\\{}!]/;

/** First words `exec` cannot take: reserved words and builtins that only mean something in the shell. */
const SHELL_ONLY = new Set(
  'if then else elif fi case esac for while until do done in exec cd . eval set export readonly unset trap shift return exit break continue alias unalias ulimit umask wait local getopts hash type command jobs fg bg read'.split(
    ' ',
  ),
);

/**
 * The script `sh -c` runs. A simple command (one program with its arguments) is prefixed with
 * `exec`, so the program replaces the shell: it receives SIGTERM itself and its exit status is
 * the one reported. Anything else runs as written, under the shell.
 */
export function shellScript(command: string): string {
  const trimmed = command.trim();
  const first = trimmed.split(/\s+/)[0] ?? '';
  if (COMPOUND.test(trimmed) || first.includes('=') || SHELL_ONLY.has(first)) return command;
  return `exec ${trimmed}`;
}
