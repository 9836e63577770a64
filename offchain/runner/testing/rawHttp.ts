/**
 * HTTP over a raw TCP socket, for requests no HTTP client would send: a bad request line, a
 * truncated or oversized chunked body, an upload abandoned half way. Reads what comes back until
 * one whole response (by its content-length, or the close) or the socket is closed.
 */
import { connect, type Socket } from "node:net";

export interface RawAnswer {
  /** The response's status, or null when the connection closed without one. */
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** No whole answer came back, and the socket stayed open, within the timeout. */
  timedOut: boolean;
}

export interface RawRequest {
  /** Written in order; a pause between parts lets the server read each on its own. */
  parts: (string | Buffer)[];
  pauseMs?: number;
  /** Close the socket once the last part is sent, instead of waiting for the answer. */
  abandon?: boolean;
  /** End the sending side after the last part (an upload that stops), and wait for the answer or the close. */
  halfClose?: boolean;
  timeoutMs?: number;
}

/** Parses the head of a response; null until the head is complete. */
function parseHead(text: string): { status: number; headers: Record<string, string>; bodyAt: number } | null {
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) return null;
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, bodyAt: end + 4 };
}

export function rawRequest(url: string, request: RawRequest): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const timeoutMs = request.timeoutMs ?? 5_000;
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = received.toString("latin1");
      const head = parseHead(text);
      resolve({
        status: head && Number.isFinite(head.status) ? head.status : null,
        headers: head?.headers ?? {},
        body: head ? text.slice(head.bodyAt) : "",
        timedOut,
      });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const head = parseHead(received.toString("latin1"));
      const length = Number(head?.headers["content-length"] ?? Number.NaN);
      if (head && Number.isFinite(length) && received.length >= head.bodyAt + length) finish(false);
    });
    socket.on("error", () => finish(false)); // a reset: what arrived before it is the answer
    socket.on("close", () => finish(false));
    socket.on("connect", async () => {
      for (const [i, part] of request.parts.entries()) {
        if (socket.destroyed) return;
        if (i > 0 && request.pauseMs) await new Promise((r) => setTimeout(r, request.pauseMs));
        socket.write(part);
      }
      // Flushed first: destroying at once would drop what is still buffered.
      if (request.abandon) socket.end(() => finish(false));
      else if (request.halfClose) socket.end();
    });
  });
}

/** A request's head, lines joined by CRLF and ended by an empty line. */
export function head(requestLine: string, headers: Record<string, string | number>): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `${[requestLine, ...lines].join("\r\n")}\r\n\r\n`;
}

/** A body as chunked transfer encoding, `size` bytes per chunk, with its last chunk or not. */
export function chunked(body: Buffer | string, size: number, { last = true } = {}): Buffer {
  const bytes = Buffer.from(body);
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const chunk = bytes.subarray(at, at + size);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
  }
  if (last) parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}
