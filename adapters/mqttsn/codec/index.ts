export { type DecodeErrorReason, type DecodeOptions, type DecodeResult, decode } from './decode.js';
export { encode } from './encode.js';
export { decodeFlags, encodeFlags, flags, shortIdToName, shortNameToId } from './flags.js';
export * from './packets.js';
