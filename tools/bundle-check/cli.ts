/**
 * Command line: node dist/tools/bundle-check/cli.js [--json] <file.js> [...]
 * Exit status 0: every file passed; 1: violations; 2: usage error (bad option, missing file).
 */
import { readFileSync } from 'node:fs';
import { checkBundle, countChecks, type BundleViolation } from './check';
import { defaultProfile } from './profile';

export const USAGE = `Usage: node dist/tools/bundle-check/cli.js [--json] <bundle.js> [more.js ...]

Checks a firmware bundle for syntax and globals that Espruino ${defaultProfile.espruino} cannot run
(rules: tools/bundle-check/espruino-profile.json, from ../shared/espruino/PROFILE.md).

Options:
  --json      print one JSON object on stdout instead of text
  -h, --help  print this text

Exit status: 0 all files pass, 1 violations found, 2 usage error (unknown option, no file,
unreadable file). \`npm run check:bundle\` checks dist/device/firmware.js.
`;

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const consoleOutput: Output = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
};

export interface FileReport {
  readonly file: string;
  readonly bytes: number;
  readonly violations: readonly BundleViolation[];
}

export interface JsonReport {
  readonly ok: boolean;
  readonly espruino: string;
  readonly checks: number;
  readonly files: readonly FileReport[];
}

function describeReadError(file: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `bundle-check: ${file}: no such file. Run \`npm run build\` first — it writes dist/device/firmware.js.`;
  if (code === 'EISDIR') return `bundle-check: ${file}: is a directory; pass the bundle file itself.`;
  return `bundle-check: ${file}: cannot read: ${(error as Error).message}`;
}

/** Run the CLI on `argv` (without node and script). Returns the exit status. */
export function main(argv: readonly string[], io: Output = consoleOutput): number {
  let json = false;
  const files: string[] = [];
  let optionsEnded = false;
  for (const arg of argv) {
    if (!optionsEnded && arg === '--') optionsEnded = true;
    else if (!optionsEnded && (arg === '--help' || arg === '-h')) {
      io.out(USAGE);
      return 0;
    } else if (!optionsEnded && arg === '--json') json = true;
    else if (!optionsEnded && arg.startsWith('-') && arg !== '-') {
      io.err(`bundle-check: unknown option ${arg}\n\n${USAGE}`);
      return 2;
    } else files.push(arg);
  }
  if (files.length === 0) {
    io.err(`bundle-check: no bundle given\n\n${USAGE}`);
    return 2;
  }

  const sources: { file: string; text: string }[] = [];
  for (const file of files) {
    try {
      sources.push({ file, text: readFileSync(file, 'utf8') });
    } catch (error) {
      io.err(describeReadError(file, error));
      return 2;
    }
  }

  const checks = countChecks();
  const reports: FileReport[] = sources.map(({ file, text }) => ({
    file,
    bytes: Buffer.byteLength(text, 'utf8'),
    violations: checkBundle(text),
  }));
  const ok = reports.every((r) => r.violations.length === 0);

  if (json) {
    const report: JsonReport = { ok, espruino: defaultProfile.espruino, checks, files: reports };
    io.out(JSON.stringify(report, null, 2));
    return ok ? 0 : 1;
  }

  for (const { file, bytes, violations } of reports) {
    if (violations.length === 0) {
      io.out(`OK ${file} (${bytes.toLocaleString('en-US')} bytes, ${checks} checks passed)`);
      continue;
    }
    for (const v of violations) {
      io.out(`${file}:${v.line}:${v.column} ${v.rule} ${v.message}`);
      io.out(`    ${v.snippet}`);
      io.out(`    ${' '.repeat(v.caret)}^`);
    }
    const counts: string[] = [];
    const count = (status: BundleViolation['status'], label: string): void => {
      const n = violations.filter((v) => v.status === status).length;
      if (n > 0) counts.push(`${n} ${label}`);
    };
    count('broken', 'measured broken on Espruino');
    count('conservative', 'unverified, rejected conservatively');
    count('error', 'parse error');
    io.out(`FAIL ${file} (${bytes.toLocaleString('en-US')} bytes): ${violations.length} violation${violations.length === 1 ? '' : 's'}: ${counts.join(', ')}`);
  }
  return ok ? 0 : 1;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
