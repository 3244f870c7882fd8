// Time onnxruntime (through onnxruntime-node) on the benchmark models of bench_test.go, one
// row per run and 64 rows per run, to compare with BenchmarkTreeEnsemble and BenchmarkMLP.
// The times include Node's call into the runtime, which is what a caller pays per run.
//
//   cd serving/onnx && ONNX_BENCH_DIR=/tmp/onnxbench go test -run TestWriteBenchModels .
//   NODE_PATH=/tmp/ortnode/node_modules node testdata/bench_ort.js /tmp/onnxbench
'use strict';

const path = require('path');
const ort = require('onnxruntime-node');

function rows(n, width, seed) {
  // A small deterministic generator: the values only need to be spread out.
  let s = seed >>> 0;
  const out = new Float32Array(n * width);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 4 - 2;
  }
  return out;
}

async function time(session, batch, width) {
  const data = rows(64, width, 42);
  const feeds = [];
  for (let i = 0; i < 64; i += batch) {
    feeds.push({ X: new ort.Tensor('float32', data.slice(i * width, (i + batch) * width), [batch, width]) });
  }
  for (let i = 0; i < 200; i++) await session.run(feeds[i % feeds.length]); // warm up
  const iters = batch === 1 ? 5000 : 500;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await session.run(feeds[i % feeds.length]);
  const ns = Number(process.hrtime.bigint() - start);
  return ns / (iters * batch);
}

async function main() {
  const dir = process.argv[2] || '/tmp/onnxbench';
  for (const name of ['bench_forest.onnx', 'bench_mlp.onnx', 'bench_linear.onnx']) {
    for (const threads of [1, 0]) {
      const session = await ort.InferenceSession.create(path.join(dir, name),
        { intraOpNumThreads: threads, interOpNumThreads: 1 });
      // The best of five: the machine may be busy with other work.
      let single = Infinity;
      let batch = Infinity;
      for (let rep = 0; rep < 5; rep++) {
        single = Math.min(single, await time(session, 1, 30));
        batch = Math.min(batch, await time(session, 64, 30));
      }
      console.log(`${name} onnxruntime ${ort.env.versions.common} intra_op_threads=${threads || 'default'}: ` +
        `single ${single.toFixed(0)} ns/row, batch64 ${batch.toFixed(0)} ns/row`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
