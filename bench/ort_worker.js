// ort_worker.js - ONNX Runtime's side of bench/bench.py: the same line
// protocol as bench/sn_worker.c (see there), on onnxruntime-node.
//
//   load MODEL        -> ok INPUT_NAME OUTPUT_NAME   (shapes come from `input`)
//   input IN.npy      -> ok N
//   time T B R W      -> ok MS_1 ... MS_R
//   run T B OUT.npy   -> ok
//   quit                (no `profile`: that one answers an error)
// One InferenceSession per thread count: intraOpNumThreads = T,
// interOpNumThreads = 1, graphOptimizationLevel 'all', sequential execution.
// Run with NODE_PATH pointing at the node_modules holding onnxruntime-node.
'use strict';
const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');

const state = { path: null, sessions: new Map(), input: null, dims: null };

// Little-endian float32 C-order .npy (version 1 or 2) -> { dims, data }.
function readNpy(path) {
  const b = fs.readFileSync(path);
  if (b.length < 12 || b.toString('latin1', 1, 6) !== 'NUMPY')
    throw new Error(`${path}: not a .npy file`);
  const v2 = b[6] >= 2;
  const hl = v2 ? b.readUInt32LE(8) : b.readUInt16LE(8);
  const start = (v2 ? 12 : 10) + hl;
  const header = b.toString('latin1', v2 ? 12 : 10, start);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new Error(`${path}: not a little-endian float32 C-order array`);
  const m = header.match(/'shape':\s*\(([^)]*)\)/);
  if (!m) throw new Error(`${path}: no shape in the header`);
  const dims = m[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const count = dims.reduce((a, d) => a * d, 1);
  if (b.length - start !== 4 * count)
    throw new Error(`${path}: ${b.length - start} data bytes for shape (${dims})`);
  const data = new Float32Array(count);   // copy: aligned, owned
  new Uint8Array(data.buffer).set(b.subarray(start));
  return { dims, data };
}

function writeNpy(path, dims, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')},), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function session(threads) {
  if (!state.sessions.has(threads)) {
    state.sessions.set(threads, await ort.InferenceSession.create(state.path, {
      intraOpNumThreads: threads, interOpNumThreads: 1,
      graphOptimizationLevel: 'all', executionMode: 'sequential' }));
  }
  return state.sessions.get(threads);
}

// Feeds: the first `batch` images of the loaded input, [batch, ...dims[1:]].
function feeds(s, batch) {
  if (!state.input) throw new Error('no model or no input loaded');
  if (!(batch >= 1 && batch <= state.dims[0]))
    throw new Error(`batch ${batch} out of range 1..${state.dims[0]}`);
  const per = state.input.length / state.dims[0];
  const x = new ort.Tensor('float32', state.input.subarray(0, batch * per),
    [batch, ...state.dims.slice(1)]);
  return { [s.inputNames[0]]: x };
}

async function load(path) {
  for (const s of state.sessions.values()) await s.release();
  state.sessions.clear();
  state.input = state.dims = null;
  state.path = path;
  const s = await session(1);
  return `ok ${s.inputNames[0]} ${s.outputNames[0]}`;
}

async function input(path) {
  if (!state.path) throw new Error('input before load');
  const a = readNpy(path);
  if (a.dims.length < 2) throw new Error(`${path}: needs [N, ...] images`);
  state.input = a.data;
  state.dims = a.dims;
  return `ok ${a.dims[0]}`;
}

async function time(threads, batch, runs, warm) {
  const s = await session(threads);
  const f = feeds(s, batch);
  const t = [];
  for (let i = 0; i < warm + runs; i++) {
    const a = process.hrtime.bigint();
    await s.run(f);
    if (i >= warm) t.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  return 'ok ' + t.map((v) => v.toFixed(5)).join(' ');
}

async function run(threads, batch, path) {
  const s = await session(threads);
  const out = (await s.run(feeds(s, batch)))[s.outputNames[0]];
  writeNpy(path, out.dims, out.data);
  return 'ok';
}

async function handle(line) {
  let m;
  if ((m = line.match(/^load (.+)$/))) return load(m[1]);
  if ((m = line.match(/^input (.+)$/))) return input(m[1]);
  if ((m = line.match(/^time (\d+) (\d+) (\d+) (\d+)$/)))
    return time(+m[1], +m[2], +m[3], +m[4]);
  if ((m = line.match(/^run (\d+) (\d+) (.+)$/))) return run(+m[1], +m[2], m[3]);
  throw new Error(`unknown command '${line}'`);
}

(async () => {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    if (line === 'quit') break;
    let reply;
    try {
      reply = await handle(line);
    } catch (e) {
      reply = 'error ' + String(e.message || e).split('\n')[0];
    }
    process.stdout.write(reply + '\n');
  }
  for (const s of state.sessions.values()) await s.release();
  process.exit(0);
})();
