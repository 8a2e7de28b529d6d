// Control-socket framing: JSON-RPC 2.0, one JSON object per line (LF), at most MAX_LINE bytes.
//   → {"jsonrpc":"2.0","id":1,"method":"vm.status","params":{}}
//   ← {"jsonrpc":"2.0","id":1,"result":{"ok":true,"value":{…}}}     (result is always an Envelope)
//   → {"jsonrpc":"2.0","id":2,"method":"events.subscribe"}          (transport-level, not in the contract)
//   ← {"jsonrpc":"2.0","method":"event","params":{"name":"status","payload":{…}}}
// A malformed line gets {"jsonrpc":"2.0","id":null,"result":{"ok":false,"error":{code:"E_INVALID_PARAMS",…}}}.
export const MAX_LINE = 1024 * 1024;
export const SUBSCRIBE = 'events.subscribe';
