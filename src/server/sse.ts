// Server-sent events over a raw Node response, as OpenAI streams them: `data: JSON` events ending
// with `data: [DONE]`. The head is written lazily, with the first event, so an error found before
// any text (a bad setting the engine refuses, a full context) can still be a plain JSON status.
import type { ServerResponse } from "node:http";

export class SseStream {
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  /** True once the 200 head went out: errors can then only be reported inside the stream. */
  get headSent(): boolean {
    return this.started;
  }

  /** False when the client is gone (nothing more can be delivered). */
  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  send(data: object): void {
    if (!this.open) return;
    this.head();
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream with OpenAI's terminator. */
  done(): void {
    if (!this.open) return;
    this.head();
    this.res.end("data: [DONE]\n\n");
  }

  /** Reports an error inside the stream (the openai client raises it) and ends it without [DONE]. */
  fail(body: object): void {
    if (!this.open) return;
    this.head();
    this.res.end(`data: ${JSON.stringify(body)}\n\n`);
  }

  /** Answers with a plain JSON status instead of a stream (only before the head went out). */
  reject(status: number, body: object, headers: Record<string, string> = {}): void {
    if (!this.open) return;
    if (this.started) return this.fail(body);
    this.res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    this.res.end(JSON.stringify(body));
  }

  private head(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      // Proxies (nginx) would otherwise buffer the stream.
      "x-accel-buffering": "no",
    });
  }
}
