// A small client for the graphql-transport-ws protocol: one socket, many operations.
// It reconnects with exponential backoff and re-subscribes every open operation; an
// operation's variables may be a function, so an event feed resumes from its last cursor.

const PROTOCOL = "graphql-transport-ws";
const ACK_TIMEOUT_MS = 10_000;
const PING_EVERY_MS = 15_000;
const PONG_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
// The server closes with these when the credential is refused: retrying cannot help.
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403]);

export class TransportWsClient {
  /**
   * @param {object} options
   * @param {string} options.url ws:// or wss:// address of the GraphQL endpoint
   * @param {() => object} options.connectionParams payload of connection_init
   * @param {(status: {state: string, retryInMs?: number}) => void} [options.onStatus]
   * @param {(reason: string) => void} [options.onFatal] the server refused the credential
   */
  constructor({ url, connectionParams, onStatus = () => {}, onFatal = () => {} }) {
    Object.assign(this, { url, connectionParams, onStatus, onFatal });
    this.operations = new Map(); // id -> {query, variables, sink}
    this.nextId = 1;
    this.attempt = 0;
    this.socket = null;
    this.acknowledged = false;
    this.timers = {};
    this.disposed = false;
    this.connect();
  }

  /** Starts an operation; returns a function that stops it. */
  subscribe({ query, variables }, sink) {
    const id = String(this.nextId++);
    this.operations.set(id, { query, variables, sink });
    if (this.acknowledged) this.sendSubscribe(id);
    return () => {
      if (this.operations.delete(id) && this.acknowledged) this.send({ id, type: "complete" });
    };
  }

  dispose() {
    this.disposed = true;
    this.operations.clear();
    this.clearTimers();
    if (this.socket) this.socket.close(1000, "bye");
  }

  connect() {
    this.acknowledged = false;
    this.onStatus({ state: "connecting" });
    const socket = new WebSocket(this.url, PROTOCOL);
    this.socket = socket;
    socket.onopen = () => {
      this.send({ type: "connection_init", payload: this.connectionParams() });
      this.timers.ack = setTimeout(() => this.drop("no connection_ack"), ACK_TIMEOUT_MS);
    };
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => this.closed(event.code, event.reason);
  }

  receive(message) {
    const operation = message.id ? this.operations.get(message.id) : undefined;
    switch (message.type) {
      case "connection_ack":
        clearTimeout(this.timers.ack);
        this.acknowledged = true;
        this.attempt = 0;
        this.onStatus({ state: "live" });
        for (const id of this.operations.keys()) this.sendSubscribe(id);
        this.keepAlive();
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "pong":
        clearTimeout(this.timers.pong);
        break;
      case "next":
        operation?.sink.next(message.payload);
        break;
      case "error":
        this.operations.delete(message.id);
        operation?.sink.error(message.payload);
        break;
      case "complete":
        this.operations.delete(message.id);
        operation?.sink.complete?.();
        break;
      default:
        this.drop(`unexpected message ${message.type}`);
    }
  }

  sendSubscribe(id) {
    const { query, variables } = this.operations.get(id);
    const resolved = typeof variables === "function" ? variables() : variables;
    this.send({ id, type: "subscribe", payload: { query, variables: resolved ?? {} } });
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  // Browsers notice a dead network late: our own pings find out within PONG_TIMEOUT_MS.
  keepAlive() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      this.send({ type: "ping" });
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.drop("no pong"), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  // Gives up on the current socket at once (a half-open one may never fire `close`).
  drop(reason) {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close(4000, reason.slice(0, 100));
    this.closed(4000, reason);
  }

  closed(code, reason) {
    this.clearTimers();
    this.socket = null;
    this.acknowledged = false;
    if (this.disposed) return;
    if (FATAL_CLOSE_CODES.has(code)) {
      this.onStatus({ state: "closed" });
      this.onFatal(reason || `closed with ${code}`);
      return;
    }
    const ceiling = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt += 1;
    this.onStatus({ state: "reconnecting", retryInMs: delay });
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  clearTimers() {
    clearTimeout(this.timers.ack);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.retry);
    clearInterval(this.timers.ping);
  }
}
