/** Injection token of the MessageBus port. */
export const MESSAGE_BUS = Symbol('MESSAGE_BUS');
