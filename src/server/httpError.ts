// An error with the HTTP status and OpenAI error fields to answer it with (plugins/errors.ts's handler
// turns it into OpenAI's error body).
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
