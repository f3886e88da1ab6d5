/** Where the SDK says what it does; pino, winston and console all fit behind it. */
export interface AgentLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function line(level: string, message: string, fields?: Record<string, unknown>): string {
  const rest = Object.entries(fields ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${new Date().toISOString()} ${level} ${message}${rest ? ' ' + rest : ''}`;
}

/** One plain line per event: info on stdout, problems on stderr; debug is left out. */
export const consoleAgentLogger: AgentLogger = {
  info: (m, f) => console.log(line('info', m, f)),
  warn: (m, f) => console.error(line('warn', m, f)),
  error: (m, f) => console.error(line('error', m, f)),
};

export const silentAgentLogger: AgentLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
