import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpConnection, HttpConnectionError, postRequest } from "./httpConnection";

let server: Server;
let url: URL;
const seen: { path: string; header: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      seen.push({ path: req.url ?? "", header: req.headers["x-test"] as string | undefined, body });
      if (body === "chunked") {
        res.write("no length");
        res.end();
        return;
      }
      const answer = "x".repeat(Number(body) || 0);
      // The head and the body in separate writes, so the client must wait for the body.
      res.writeHead(body === "404" ? 404 : 200, { "content-length": Buffer.byteLength(answer) });
      res.flushHeaders();
      setImmediate(() => res.end(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/models/1/infer`);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("HttpConnection", () => {
  it("sends requests one after another on one connection and waits for each whole body", async () => {
    const connection = new HttpConnection(url);
    try {
      expect(await connection.send(postRequest(url, { "x-test": "a" }, "70000"))).toBe(200);
      expect(await connection.send(postRequest(url, { "x-test": "b" }, "404"))).toBe(404);
      expect(await connection.send(postRequest(url, {}, "0"))).toBe(200);
      expect(seen.slice(-3)).toEqual([
        { path: "/v2/models/1/infer", header: "a", body: "70000" },
        { path: "/v2/models/1/infer", header: "b", body: "404" },
        { path: "/v2/models/1/infer", header: undefined, body: "0" },
      ]);
    } finally {
      connection.close();
    }
  });

  it("refuses a second request in flight and an answer without a length", async () => {
    const connection = new HttpConnection(url);
    try {
      const first = connection.send(postRequest(url, {}, "10"));
      await expect(connection.send(postRequest(url, {}, "10"))).rejects.toThrow(HttpConnectionError);
      expect(await first).toBe(200);
      await expect(connection.send(postRequest(url, {}, "chunked"))).rejects.toThrow(/unsupported answer/);
    } finally {
      connection.close();
    }
  });
});
