import { connect } from '/work/main/dist/remote/rpc.js';
const remote = await connect('tcp://127.0.0.1:47123', { authkey: 'k' });
for (let i = 0; i < 1000; i++) await remote.echo(1);
process.exit(0);
