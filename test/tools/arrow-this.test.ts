// tools/arrow-this.cjs: arrows whose expression body uses `this` and holds a function lose
// `this` on Espruino 2v29 (device/ESPRUINO.md); the build gives them their block body back. The
// rewrite touches exactly those, computes the same in JavaScript, and the built firmware has none.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arrowsLosingThis, blockArrowBodies } from '../../tools/arrow-this.cjs';

// m, n and r have the form (n with an object literal body inside, r two of them nested); o uses this but holds
// no function, p's `this` is a function's own, q holds a function but no this: those stay
const program =
  'class A{constructor(){this.v=7}run(x,f){return f(x)}ok(x,g){return x+g()+this.v}a(f){return f(1)}b(g){return g().k+this.v}' +
  'm(){return this.run(2,(d)=>this.ok(d,()=>3))}n(){return this.a(x=>this.b(()=>({k:x})))}o(){return (()=>this.v)()}' +
  'p(){return (e=>function(){return typeof this})(0)()}q(){return (x=>[1,2].map(y=>x+y))(1)}' +
  'r(){return this.a(x=>this.a(y=>this.b(()=>({k:x+y}))))}}';

describe('blockArrowBodies', () => {
  it('rewrites exactly the arrows that would lose this', () => {
    expect(arrowsLosingThis(program)).toHaveLength(4);
    const r = blockArrowBodies(program);
    expect(r.rewritten).toBe(4);
    expect(r.text).toContain('x=>{return this.a(y=>{return this.b(()=>({k:x+y}))})}');
    expect(r.text).toContain('(d)=>{return this.ok(d,()=>3)}');
    expect(r.text).toContain('x=>{return this.b(()=>({k:x}))}');
    expect(r.text).toContain('return (()=>this.v)()');
    expect(r.text).toContain('(x=>[1,2].map(y=>x+y))');
    expect(arrowsLosingThis(r.text)).toEqual([]);
  });

  it('computes the same', () => {
    const run = (src: string): unknown[] => {
      const A = new Function(`${src};return A;`)() as new () => Record<string, () => unknown>;
      const a = new A();
      return ['m', 'n', 'o', 'p', 'q', 'r'].map((k) => a[k]());
    };
    expect(run(blockArrowBodies(program).text)).toEqual(run(program));
    expect(run(program)).toEqual([12, 8, 7, 'undefined', [2, 3], 9]);
  });

  it('leaves none in the firmware as built', () => {
    const fw = readFileSync(join(__dirname, '..', '..', 'dist', 'device', 'firmware.js'), 'latin1');
    const code = fw.slice(fw.indexOf('\n') + 1);
    expect(arrowsLosingThis(code)).toEqual([]);
    // the card applet's calls are the ones that had the form: they are there, as blocks
    expect(code).toMatch(/=>\{return this\.\w+\(/);
  });
});
