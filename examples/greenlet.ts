// The articles' greenlet example, ported: gr1 prints 12 and switches to gr2, which prints 56 and
// switches back; gr1 prints 34 and ends, so control returns here and 78 is never printed.
//   npm run example -- greenlet
import { Greenlet } from 'weft';

const gr1: Greenlet = new Greenlet(function* () {
  console.log(12);
  yield gr2.switch();
  console.log(34);
});
const gr2: Greenlet = new Greenlet(function* () {
  console.log(56);
  yield gr1.switch();
  console.log(78);
});
gr1.switch();
