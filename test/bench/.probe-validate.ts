// scratch: validateCommand as is vs the same rules with its two helpers hoisted out of the function (tsx keepNames → __name per call)
import { validateCommand, describeId, isAmount, isVersion } from '../../src/domain/validation.ts';
import { workCommands } from './workload.ts';
const opsPerSecond = (op: (i: number) => unknown, ms: number) => { let n = 0; const t = performance.now(); while (performance.now() - t < ms) for (let j = 0; j < 256; j++) op(n++); return (n / (performance.now() - t)) * 1000; };
const amount = (field: string, n: unknown) => (isAmount(n) ? null : `${field} must be a positive integer number of minor units no larger than 2^53-1`);
const version = (n: unknown) => (n == null || isVersion(n) ? null : 'expectedVersion must be a non-negative integer');
function hoisted(command: any): string | null {
  switch (command.type) {
    case 'Deposit': case 'Withdraw':
      return describeId('accountId', command.accountId) ?? amount('amount', command.amount) ?? describeId('transactionId', command.transactionId) ?? version(command.expectedVersion);
    case 'Transfer':
      return describeId('fromAccountId', command.fromAccountId) ?? describeId('toAccountId', command.toAccountId) ?? amount('amount', command.amount) ?? describeId('transactionId', command.transactionId);
  }
  return null;
}
const cmds = workCommands(1000, 1000, 1);
for (let r = 0; r < 3; r++) {
  const a = opsPerSecond((i) => validateCommand(cmds[i % 1000]!), 500);
  const b = opsPerSecond((i) => hoisted(cmds[i % 1000]!), 500);
  console.log(`validateCommand: ${(1e6 / a).toFixed(2)} µs/call; hoisted helpers: ${(1e6 / b).toFixed(2)} µs/call`);
}
