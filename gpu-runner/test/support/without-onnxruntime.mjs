// `node --import ./without-onnxruntime.mjs …`: a process in which
// onnxruntime-node cannot be found, as on an install that left out optional
// dependencies (the CLI must then record on tfjs).
import { register } from 'node:module';

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier === 'onnxruntime-node' || specifier.startsWith('onnxruntime-node/')) {
    const err = new Error("Cannot find package 'onnxruntime-node' (hidden by without-onnxruntime.mjs)");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
