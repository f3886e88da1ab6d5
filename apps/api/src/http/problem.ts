/** RFC 7807 problem details, as every error of the API is answered. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  const title = TITLES[status] ?? 'Error';
  return {
    type: `https://saga-platform.dev/problems/${title.toLowerCase().replace(/[^a-z]+/g, '-')}`,
    title,
    status,
    detail,
    ...extra,
  };
}

/** Thrown by handlers for an answer that is not a success; the filter writes it as is. */
export class ProblemException extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export const badRequest = (detail: string, errors?: Problem['errors']) => new ProblemException(problem(400, detail, errors ? { errors } : {}));
export const notFound = (detail = 'not found') => new ProblemException(problem(404, detail));
export const forbidden = (detail: string) => new ProblemException(problem(403, detail));
export const unprocessable = (detail: string, extra: Partial<Problem> = {}) => new ProblemException(problem(422, detail, extra));
export const conflict = (detail: string, extra: Partial<Problem> = {}) => new ProblemException(problem(409, detail, extra));
