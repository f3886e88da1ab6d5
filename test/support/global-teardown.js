module.exports = async function globalTeardown() {
  for (const c of globalThis.__SAGA_CONTAINERS__ || []) await c.stop();
};
