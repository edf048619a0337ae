// Signs and verifies Web Bot Auth messages with Cloudflare's npm `web-bot-auth` (and its
// `http-message-sig`), for tests/interop: one JSON request on stdin, one JSON answer on stdout.
//
//   {"op": "sign", "url", "method", "headers", "jwk" (private), "created", "expires",
//    "components"?, "label"?}                      -> {"ok": true, "headers": {...}, "keyid"}
//   {"op": "verify", "url", "method", "headers", "jwk" (public)}
//                                                   -> {"ok": true} | {"ok": false, "error"}
//   {"op": "verify-directory", "url", "status", "headers", "body"}
//     the key directory's response: its signature with the key it serves, and its Content-Digest
//                                                   -> {"ok": true, "keyid"} | {"ok": false, ...}
import { createHash } from "node:crypto";

import { signatureHeaders, verify } from "web-bot-auth";
import { signerFromJWK, verifierFromJWK } from "web-bot-auth/crypto";
import { verify as verifyMessage } from "http-message-sig";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function request(input) {
  return new Request(input.url, { method: input.method ?? "GET", headers: input.headers ?? {} });
}

async function sign(input) {
  const signer = await signerFromJWK(input.jwk);
  const params = {
    created: new Date(input.created * 1000),
    expires: new Date(input.expires * 1000),
  };
  if (input.components) params.components = input.components;
  if (input.label) params.key = input.label;
  const headers = await signatureHeaders(request(input), signer, params);
  return { ok: true, headers, keyid: signer.keyid };
}

async function verifyRequest(input) {
  await verify(request(input), await verifierFromJWK(input.jwk));
  return { ok: true };
}

async function verifyDirectory(input) {
  const body = Buffer.from(input.body, "utf8");
  const digest = "sha-256=:" + createHashBase64(body) + ":";
  const headers = Object.fromEntries(
    Object.entries(input.headers).map(([name, value]) => [name.toLowerCase(), value])
  );
  if (headers["content-digest"] !== digest) {
    return { ok: false, error: `content-digest ${headers["content-digest"]} != ${digest}` };
  }
  const keys = JSON.parse(input.body).keys;
  const message = {
    request: { method: "GET", url: input.url, headers: {} },
    response: { status: input.status, headers },
  };
  let keyid = null;
  await verifyMessage(message, async (data, signature, params) => {
    if (params.tag !== "http-message-signatures-directory") throw new Error(`tag ${params.tag}`);
    const jwk = keys.find((k) => k.kid === params.keyid);
    if (!jwk) throw new Error(`no key ${params.keyid} in the directory`);
    await (await verifierFromJWK(jwk))(data, signature, params);
    keyid = params.keyid;
  });
  return { ok: true, keyid };
}

function createHashBase64(bytes) {
  return createHash("sha256").update(bytes).digest("base64");
}

const ops = { sign, verify: verifyRequest, "verify-directory": verifyDirectory };
const input = await readStdin();
let answer;
try {
  answer = await ops[input.op](input);
} catch (error) {
  answer = { ok: false, error: String(error?.message ?? error) };
}
process.stdout.write(JSON.stringify(answer));
