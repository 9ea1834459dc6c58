// Lints snippets with the repository's eslint.config.mjs through the ESLint class's lintText,
// as if each snippet were the file at its filePath (no file is created).
// stdin:  JSON [{ "filePath": "device/src/x.ts", "code": "..." }, ...]
// stdout: JSON [[{ ruleId, message, line, column, severity }, ...], ...] in the same order.
// A separate process because ESLint loads its config with a dynamic import, which Jest's VM
// refuses without --experimental-vm-modules.
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const eslint = new ESLint({ cwd: root });
const output = [];
for (const { filePath, code } of input) {
  const [result] = await eslint.lintText(code, { filePath, warnIgnored: true });
  output.push(result.messages.map(({ ruleId, message, line, column, severity }) => ({ ruleId, message, line, column, severity })));
}
process.stdout.write(JSON.stringify(output));
