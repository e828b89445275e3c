/**
 * Errors a user can act on. The CLI prints `message` alone (no stack) and exits non-zero;
 * anything else that escapes is an engine bug and is printed with its stack.
 */
export class LineaError extends Error {
  override readonly name = 'LineaError';
  constructor(
    message: string,
    /** What kind of mistake: lets tests and callers branch without parsing prose. */
    readonly kind: 'config' | 'params' | 'cycle' | 'usage' | 'store' | 'stage',
  ) {
    super(message);
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
