import { ApiClient, ApiError } from './client';

/**
 * The role of the key the person entered, from `GET /v1/me` (asked once per browser session; the
 * answer is kept in sessionStorage with the key): 401 = unknown key, 403 = an agent key (it may call
 * only the /v1/agent routes, so it cannot use the console).
 */
export type KeyRole = 'client' | 'operator';

export async function probeRole(api: ApiClient): Promise<KeyRole> {
  try {
    const me = await api.get('/v1/me', {});
    // Admin keys get the operator's view (the rebuild button, admin only, hides itself on a 403).
    return me.role === 'admin' || me.role === 'operator' ? 'operator' : 'client';
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw new Error('The API does not know this key (401). Check it and try again.');
    if (err instanceof ApiError && err.status === 403) throw new Error('This is an agent key: it may call only the /v1/agent routes. Use a client, operator or admin key.');
    throw err;
  }
}
