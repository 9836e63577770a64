/**
 * A JSON-RPC endpoint in front of another that answers some methods with "method not found"
 * (-32601), as a node or provider without them does, and forwards the rest.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

interface RpcRequest {
  id: unknown;
  method: string;
}

export async function refusingMethods(target: string, refused: readonly string[]) {
  const refusedCalls: string[] = [];
  const answer = async (request: RpcRequest) => {
    if (!refused.includes(request.method)) {
      const response = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
      });
      return response.json();
    }
    refusedCalls.push(request.method);
    return {
      jsonrpc: "2.0",
      id: request.id,
      error: { code: -32601, message: `the method ${request.method} does not exist` },
    };
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as RpcRequest | RpcRequest[];
    const result = Array.isArray(body) ? await Promise.all(body.map(answer)) : await answer(body);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refusedCalls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
