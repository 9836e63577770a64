/**
 * A minimal HTTP/1.1 client for the load process of bench:http: one keep-alive TCP connection,
 * one request at a time, requests written as prepared bytes and answers read up to their
 * Content-Length. Node's http client spends several times the runner's own per-call HTTP work
 * on building and parsing each call; on a 2-core machine shared with the runner, that cost was
 * taken from the server being measured.
 */
import net from "node:net";

const HEADER_END = Buffer.from("\r\n\r\n");

export class HttpConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HttpConnectionError";
  }
}

/** The bytes of a POST request, ready to write. */
export function postRequest(url: URL, headers: Record<string, string>, body: string): Buffer {
  const bytes = Buffer.from(body);
  const lines = [`POST ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${bytes.length}`, "", "");
  return Buffer.concat([Buffer.from(lines.join("\r\n")), bytes]);
}

interface Waiting {
  resolve(status: number): void;
  reject(error: Error): void;
}

export class HttpConnection {
  private socket: net.Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: Waiting | null = null;

  constructor(private readonly url: URL) {}

  /** Sends one request and resolves with the answer's status once its whole body has arrived. */
  send(request: Buffer): Promise<number> {
    if (this.waiting) return Promise.reject(new HttpConnectionError("a request is already in flight"));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.connection().write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private connection(): net.Socket {
    if (this.socket) return this.socket;
    const socket = net.connect(Number(this.url.port), this.url.hostname);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    const fail = (error: Error) => {
      if (this.socket === socket) this.socket = null;
      this.buffered = Buffer.alloc(0);
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.reject(error);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new HttpConnectionError("the server closed the connection")));
    this.socket = socket;
    return socket;
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd === -1) return;
    const head = this.buffered.subarray(0, headerEnd).toString("latin1");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
    if (!status || length === undefined) {
      this.socket?.destroy(new HttpConnectionError(`unsupported answer: ${head.split("\r\n")[0]}`));
      return;
    }
    const end = headerEnd + HEADER_END.length + Number(length);
    if (this.buffered.length < end) return; // the body is still on its way
    this.buffered = this.buffered.subarray(end);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve(status);
  }
}
