// Fill in the "outputs" of every *.expected.json here with onnxruntime's results: the ground
// truth the Go tests compare with. Needs onnxruntime-node (MIT), installed outside the repo:
//
//   mkdir -p /tmp/ortnode && cd /tmp/ortnode && ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0
//   cd serving/onnx/testdata && NODE_PATH=/tmp/ortnode/node_modules node run_ort.js
//
// Models with a ZipMap output run as their <case>.ort.onnx twin (written by gen_fixtures.py),
// whose output is the ZipMap's input tensor: onnxruntime-node cannot return sequences of maps.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function feed(input) {
  const data = input.data;
  switch (input.dtype) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(data, (v) => (v === null ? NaN : v)), input.dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(data, (v) => (v === null ? NaN : v)), input.dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(v)), input.dims);
    case 'string':
      return new ort.Tensor('string', data, input.dims);
  }
  throw new Error(`unsupported input type ${input.dtype}`);
}

function plain(t) {
  const out = { dtype: t.type, dims: Array.from(t.dims) };
  if (t.type === 'int64') {
    out.data = Array.from(t.data, (v) => Number(v));
  } else if (t.type === 'string') {
    out.data = Array.from(t.data);
  } else {
    out.data = Array.from(t.data, (v) => (Number.isNaN(v) ? null : v));
  }
  return out;
}

// stringify is JSON.stringify keeping negative zero, which JSON.stringify writes as 0.
function stringify(doc) {
  const mark = '"\\u0000-0"'; // how JSON.stringify writes the marker string
  const text = JSON.stringify(doc, (k, v) => (Object.is(v, -0) ? '\u0000-0' : v), 1);
  return text.split(mark).join('-0.0');
}

async function main() {
  const dir = __dirname;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.expected.json')).sort();
  let failed = 0;
  let skipped = 0;
  for (const f of files) {
    const file = path.join(dir, f);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (doc.reference === 'numpy') { // onnxruntime cannot run it; gen_fixtures.py wrote numpy's outputs
      skipped++;
      continue;
    }
    const modelFile = path.join(dir, doc.ort_model || doc.model);
    try {
      const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      const feeds = {};
      for (const input of doc.inputs) feeds[input.name] = feed(input);
      const res = await session.run(feeds);
      doc.outputs = session.outputNames.map((name) => Object.assign({ name }, plain(res[name])));
      doc.versions = Object.assign({}, doc.versions, { onnxruntime: ort.env.versions.common });
      delete doc.ort_error;
    } catch (e) {
      failed++;
      doc.outputs = null;
      doc.ort_error = String(e.message || e).split('\n')[0];
      console.error(`${f}: ${doc.ort_error}`);
    }
    fs.writeFileSync(file, stringify(doc) + '\n');
  }
  console.log(`${files.length - failed - skipped} of ${files.length} cases scored by onnxruntime ${ort.env.versions.common}` +
    (skipped ? ` (${skipped} with numpy references)` : ''));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
