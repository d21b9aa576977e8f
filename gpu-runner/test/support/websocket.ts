/**
 * Test support: the smallest WebSocket client that can talk to Chromium's
 * DevTools endpoint (RFC 6455 over a raw `http` upgrade). Node 20 has no
 * global WebSocket without --experimental-websocket, which a vitest worker
 * cannot be given, and the project takes no dependency for it.
 *
 * Scope: text messages, fragmentation, 16/64-bit lengths, ping/pong, close.
 * Client frames are masked as the RFC requires; server frames are not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export class MiniWebSocket {
  private buffer: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private closed = false;
  onmessage: (text: string) => void = () => {};
  onclose: () => void = () => {};

  private constructor(private readonly socket: Socket, head: Buffer) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
    if (head.length) this.receive(head);
  }

  static connect(url: string, timeoutMs = 60_000): Promise<MiniWebSocket> {
    const { hostname, port, pathname, search } = new URL(url);
    const key = randomBytes(16).toString('base64');
    return new Promise((resolve, reject) => {
      const req = request({
        hostname,
        port,
        path: pathname + search,
        timeout: timeoutMs,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key },
      });
      req.on('upgrade', (res, socket, head) => {
        const expected = createHash('sha1').update(key + GUID).digest('base64');
        if (res.headers['sec-websocket-accept'] !== expected) {
          socket.destroy();
          reject(new Error('websocket handshake: wrong Sec-WebSocket-Accept'));
          return;
        }
        resolve(new MiniWebSocket(socket as Socket, head));
      });
      req.on('response', (res) => reject(new Error(`websocket handshake refused: HTTP ${res.statusCode}`)));
      req.on('timeout', () => req.destroy(new Error(`websocket handshake timed out: ${url}`)));
      req.on('error', reject);
      req.end();
    });
  }

  send(text: string): void {
    if (this.closed) throw new Error('websocket is closed');
    this.socket.write(frame(0x1, Buffer.from(text, 'utf8')));
  }

  close(): void {
    if (this.closed) return;
    this.socket.write(frame(0x8, Buffer.alloc(0)));
    this.socket.end();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose();
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.buffer.length < 2) return;
      const fin = (this.buffer[0] & 0x80) !== 0;
      const opcode = this.buffer[0] & 0x0f;
      const masked = (this.buffer[1] & 0x80) !== 0;
      let length = this.buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const maskOffset = offset;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= this.buffer[maskOffset + (i & 3)];
      this.buffer = this.buffer.subarray(offset + length);
      this.handle(fin, opcode, payload);
    }
  }

  private handle(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x0: // continuation
      case 0x1: // text
      case 0x2: // binary (CDP sends none; treated as text)
        this.fragments.push(payload);
        if (fin) {
          const text = Buffer.concat(this.fragments).toString('utf8');
          this.fragments = [];
          this.onmessage(text);
        }
        return;
      case 0x8:
        this.close();
        return;
      case 0x9:
        if (!this.closed) this.socket.write(frame(0xa, payload));
        return;
      default: // 0xA pong and reserved opcodes need no answer
    }
  }
}

/** A final, masked client frame. */
function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  if (n < 126) header[1] = 0x80 | n;
  else if (n < 65536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(n, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, body]);
}
