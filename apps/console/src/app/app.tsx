import { lazy, ReactNode, Suspense, useCallback, useState } from 'react';
import { AppShell, Badge, Button, Group, Loader, NavLink, ScrollArea, Text, Title } from '@mantine/core';
import { LoginPage } from '../pages/login/login.page';
import { SagasPage } from '../pages/sagas/sagas.page';
import { SagaPage } from '../pages/saga/saga.page';
import { FailuresPage } from '../pages/failures/failures.page';
import { AgentsPage } from '../pages/agents/agents.page';
import { AgentPage } from '../pages/agents/agent.page';
import { ServicesPage } from '../pages/agents/services.page';
import { QueuesPage } from '../pages/queues/queues.page';
import { ProjectionsPage } from '../pages/projections/projections.page';
import { DeadLettersPage } from '../pages/dead-letters/dead-letters.page';
import { SchedulesPage } from '../pages/schedules/schedules.page';
import { DefinitionsPage } from '../pages/definitions/definitions.page';
import { DefinitionPage } from '../pages/definitions/definition.page';
import { BASE, Location, navigate, useLocation } from './router';
import { clearSession, isOperator, loadSession, saveSession, SessionProvider, StoredSession, useSession } from './session';
import { useApi } from './use-api';

// recharts is the largest dependency: loaded only when the stats page opens.
const StatsPage = lazy(() => import('../pages/stats/stats.page'));

interface NavItem {
  to: string;
  label: string;
  operator?: boolean;
  match: (path: string) => boolean;
}

const NAV: NavItem[] = [
  { to: '/', label: 'Sagas', match: (p) => p === '/' || p.startsWith('/sagas') },
  { to: '/failures', label: 'Failures inbox', match: (p) => p.startsWith('/failures') },
  { to: '/stats', label: 'Saga stats', match: (p) => p.startsWith('/stats') },
  { to: '/agents', label: 'Agents', match: (p) => p.startsWith('/agents') },
  { to: '/services', label: 'Services', match: (p) => p.startsWith('/services') },
  { to: '/queues', label: 'Queues', operator: true, match: (p) => p.startsWith('/queues') },
  { to: '/projections', label: 'Projections', operator: true, match: (p) => p.startsWith('/projections') },
  { to: '/dead-letters', label: 'Dead letters', operator: true, match: (p) => p.startsWith('/dead-letters') },
  { to: '/schedules', label: 'Schedules', match: (p) => p.startsWith('/schedules') },
  { to: '/definitions', label: 'Workflow definitions', match: (p) => p.startsWith('/definitions') },
];

function page(loc: Location, operator: boolean): ReactNode {
  const p = loc.path.replace(/\/+$/, '') || '/';
  let m: RegExpMatchArray | null;
  if (p === '/' || p === '/sagas') return <SagasPage />;
  if ((m = p.match(/^\/sagas\/([^/]+)$/))) return <SagaPage key={m[1]} sagaId={decodeURIComponent(m[1])} />;
  if (p === '/failures') return <FailuresPage />;
  if (p === '/stats') return <StatsPage />;
  if (p === '/agents') return <AgentsPage />;
  if ((m = p.match(/^\/agents\/([^/]+)$/))) return <AgentPage key={m[1]} agentId={decodeURIComponent(m[1])} />;
  if (p === '/services') return <ServicesPage />;
  if (p === '/schedules') return <SchedulesPage />;
  if (p === '/definitions') return <DefinitionsPage />;
  if ((m = p.match(/^\/definitions\/([^/]+)$/))) return <DefinitionPage key={m[1]} name={decodeURIComponent(m[1])} />;
  if (operator) {
    if (p === '/queues') return <QueuesPage />;
    if (p === '/projections') return <ProjectionsPage />;
    if (p === '/dead-letters') return <DeadLettersPage />;
  } else if (['/queues', '/projections', '/dead-letters'].includes(p)) {
    return <Text c="dimmed">This page needs an operator key.</Text>;
  }
  return <Text c="dimmed">No page at {BASE + loc.path}.</Text>;
}

/** The number of sagas waiting for an operator, for the navigation badge (saga stats, polled). */
function useFailureCount(): number | undefined {
  const stats = useApi((api, signal) => api.get('/v1/stats/sagas', { signal }), [], { pollMs: 5000 });
  if (!stats.data) return undefined;
  return stats.data.byTypeAndStatus.filter((c) => c.status === 'COMPENSATION_FAILED' || c.status === 'SUSPENDED').reduce((n, c) => n + c.count, 0);
}

function Shell() {
  const session = useSession();
  const loc = useLocation();
  const operator = isOperator(session);
  const failures = useFailureCount();
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 220, breakpoint: 0 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs">
            <Title order={4}>Saga Platform</Title>
            <Text c="dimmed" size="sm">
              console
            </Text>
          </Group>
          <Group gap="xs">
            <Badge variant="outline" data-testid="role-badge" color={operator ? 'violet' : 'gray'}>
              {operator ? (session.notAdmin ? 'operator' : 'operator / admin') : 'client'} key
            </Badge>
            <Button variant="subtle" size="xs" onClick={() => session.signOut()} data-testid="sign-out">
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <ScrollArea>
          {NAV.filter((n) => !n.operator || operator).map((n) => (
            <NavLink
              key={n.to}
              href={`${BASE}${n.to}`}
              label={n.label}
              active={n.match(loc.path)}
              data-testid={`nav-${n.to.slice(1) || 'sagas'}`}
              onClick={(e) => {
                if (e.button !== 0 || e.metaKey || e.ctrlKey) return;
                e.preventDefault();
                navigate(n.to);
              }}
              rightSection={
                n.to === '/failures' && failures ? (
                  <Badge color="red" size="sm" circle={failures < 10} data-testid="failures-count">
                    {failures}
                  </Badge>
                ) : undefined
              }
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main bg="gray.0">
        <Suspense fallback={<Loader />}>{page(loc, operator)}</Suspense>
      </AppShell.Main>
    </AppShell>
  );
}

export function App() {
  const [stored, setStored] = useState<StoredSession | undefined>(loadSession);
  const [message, setMessage] = useState<string | undefined>();
  const signOut = useCallback((msg?: string) => {
    clearSession();
    setMessage(msg);
    setStored(undefined);
  }, []);
  if (!stored) {
    return (
      <LoginPage
        message={message}
        onSignedIn={(s) => {
          saveSession(s);
          setMessage(undefined);
          setStored(s);
        }}
      />
    );
  }
  return (
    <SessionProvider stored={stored} onSignOut={signOut}>
      <Shell />
    </SessionProvider>
  );
}
