/**
 * A loopback TCP proxy in front of an RPC endpoint (anvil), standing for the RPC as a runner
 * sees it, so that tests can take it away: `down` refuses connections, as a dead endpoint
 * does; `hang` accepts them and never answers, as an overloaded one does; `up` forwards again.
 */
import net from "node:net";

type Mode = "forward" | "hang";

export class RpcProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private mode: Mode = "forward";
  private port = 0;
  /** Requests (connections' first bytes) that arrived while hanging, never answered. */
  hungRequests = 0;

  constructor(private readonly target: URL) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts forwarding (on the same port as before, after `down`). */
  async up(): Promise<void> {
    this.dropConnections();
    this.mode = "forward";
    if (this.server.listening) return;
    await new Promise<void>((resolve) => this.server.listen(this.port, "127.0.0.1", () => resolve()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Refuses connections: the endpoint is gone. */
  async down(): Promise<void> {
    this.dropConnections();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Accepts connections and requests but never answers them. */
  hang(): void {
    this.dropConnections();
    this.mode = "hang";
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => socket.destroy()).on("close", () => this.sockets.delete(socket));
    if (this.mode === "hang") {
      socket.on("data", () => {
        this.hungRequests++;
      });
      return;
    }
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    this.sockets.add(upstream);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on("error", close).on("close", () => {
      this.sockets.delete(upstream);
      close();
    });
    socket.on("close", close);
    socket.pipe(upstream).pipe(socket);
  }

  /** Keep-alive connections would outlive a mode change; every mode starts from none. */
  private dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
