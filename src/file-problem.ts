import path from 'node:path';

/**
 * One sentence for a setting whose file cannot be read: the setting, the path (a path is not a
 * secret, and without it the reader has to guess which file was meant) and whether the file is
 * missing or there but unreadable, with what to do about each.
 */
export function fileReadProblem(setting: string, file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const shown = JSON.stringify(file.length > 300 ? `${file.slice(0, 300)}...` : file);
  switch (code) {
    case 'ENOENT':
      // A relative path is read from the working directory, not from the env file's: say which.
      return `${setting} ${shown} does not exist${path.isAbsolute(file) ? '' : ` (a relative path, read from the working directory ${JSON.stringify(process.cwd().slice(0, 200))})`}: check the path.`;
    case 'ENOTDIR':
      return `${setting} ${shown} does not exist (a part of the path is not a directory): check the path.`;
    case 'EACCES':
    case 'EPERM':
      return `${setting} ${shown} exists but this user may not read it (permission denied): check the file's and its directories' owner and permissions.`;
    case 'EISDIR':
      return `${setting} ${shown} is a directory: give the path of the file.`;
    default:
      return `${setting} ${shown} cannot be read (${code ?? 'error'}): check the path and that this user may read the file.`;
  }
}
