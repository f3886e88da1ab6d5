import { FormEvent, useState } from 'react';
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { ApiClient, describeError } from '../../api/client';
import { probeRole } from '../../api/role';
import { StoredSession } from '../../app/session';

/** The key is checked (and its role learned) once, then kept for the browser session. */
export function LoginPage(props: { message?: string; onSignedIn(s: StoredSession): void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(props.message);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) return setError('Enter an API key.');
    setBusy(true);
    setError(undefined);
    try {
      const role = await probeRole(new ApiClient(trimmed));
      props.onSignedIn({ key: trimmed, role });
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w={440} component="form" onSubmit={submit}>
        <Stack>
          <div>
            <Title order={2}>Saga Platform</Title>
            <Text c="dimmed" size="sm">
              Operator console. Enter an API key: it is kept in this browser tab only (sessionStorage) and sent as
              <code> Authorization: Bearer</code> to the public /v1 API.
            </Text>
          </div>
          <PasswordInput label="API key" placeholder="sk_…" value={key} onChange={(e) => setKey(e.currentTarget.value)} data-testid="api-key" autoFocus />
          {error ? (
            <Alert color="red" data-testid="login-error">
              {error}
            </Alert>
          ) : null}
          <Button type="submit" loading={busy} data-testid="sign-in">
            Sign in
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}
