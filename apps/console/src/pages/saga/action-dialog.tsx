import { useState } from 'react';
import { Alert, Button, Checkbox, Group, JsonInput, Modal, Select, Stack, Text, Textarea } from '@mantine/core';
import { describeError, Schemas } from '../../api/client';
import { useSession } from '../../app/session';
import { SagaAction } from './operator-actions';

type SagaView = Schemas['SagaViewDto'];

const TITLES: Record<SagaAction, string> = {
  retry: 'Retry the failed compensation',
  skip: 'Skip the stuck compensation',
  cancel: 'Cancel the saga',
  resume: 'Resume the suspended saga',
  compensate: 'Compensate the suspended saga',
};

const CONFIRM: Record<SagaAction, string> = {
  retry: 'Confirm retry',
  skip: 'Confirm skip',
  cancel: 'Confirm cancel',
  resume: 'Confirm resume',
  compensate: 'Confirm compensate',
};

const EXPLAIN: Record<SagaAction, string> = {
  retry: 'The compensation that failed runs again with fresh attempts; compensation then goes on in reverse order.',
  skip: 'Marks the stuck compensation SKIPPED (do this once its effect is undone by other means) and goes on compensating the steps before it.',
  cancel: 'Interrupts the running step (it ends FAILED with CANCELLED) and compensates the completed steps in reverse order.',
  resume: 'The failed step runs again with fresh attempts, optionally with a corrected config (task workflows).',
  compensate: 'Compensates the completed steps in reverse order.',
};

/**
 * Asks for a reason (recorded with the actor in the saga's events) and sends the operator command;
 * a refusal shows the API's problem+json `detail` and keeps the dialog open.
 */
export function ActionDialog(props: {
  action: SagaAction;
  saga: SagaView;
  defaultStep?: string;
  defaultConfig?: unknown;
  onClose(): void;
  onDone(view: SagaView): void;
  onRefused(): void;
}) {
  const { api } = useSession();
  const { action, saga } = props;
  const stuck = saga.steps.filter((s) => s.status === 'COMPENSATION_FAILED').map((s) => s.name);
  const [step, setStep] = useState<string | null>(props.defaultStep ?? stuck[0] ?? null);
  const [reason, setReason] = useState('');
  const [replaceConfig, setReplaceConfig] = useState(false);
  const [config, setConfig] = useState(() => JSON.stringify(props.defaultConfig ?? {}, null, 2));
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const reasonRequired = action !== 'retry';
  const canConfigure = action === 'resume' && saga.type === 'task-workflow';

  const submit = async () => {
    setError(undefined);
    if (reasonRequired && !reason.trim()) return setError('A reason is required: it is recorded with your key in the saga history.');
    if (action === 'skip' && !step) return setError('Choose the compensation to skip.');
    let parsedConfig: unknown;
    if (canConfigure && replaceConfig) {
      try {
        parsedConfig = JSON.parse(config);
      } catch (err) {
        return setError(`The config is not valid JSON: ${describeError(err)}`);
      }
    }
    setBusy(true);
    try {
      const params = { sagaId: saga.sagaId };
      const r = reason.trim();
      let view: SagaView;
      switch (action) {
        case 'retry':
          view = await api.post('/v1/sagas/{sagaId}/retry', { params, body: r ? { reason: r } : {} });
          break;
        case 'skip':
          view = await api.post('/v1/sagas/{sagaId}/skip', { params, body: { step: step!, reason: r } });
          break;
        case 'cancel':
          view = await api.post('/v1/sagas/{sagaId}/cancel', { params, body: { reason: r } });
          break;
        case 'resume':
          view = await api.post('/v1/sagas/{sagaId}/resume', {
            params,
            body: parsedConfig === undefined ? { reason: r } : { reason: r, config: parsedConfig as Schemas['ResumeSagaDto']['config'] },
          });
          break;
        case 'compensate':
          view = await api.post('/v1/sagas/{sagaId}/compensate', { params, body: { reason: r } });
          break;
      }
      props.onDone(view);
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
      props.onRefused();
    }
  };

  return (
    <Modal opened onClose={props.onClose} title={TITLES[action]} size="lg" data-testid="action-dialog">
      <Stack>
        <Text size="sm" c="dimmed">
          {EXPLAIN[action]}
        </Text>
        {action === 'skip' ? (
          <Select label="Compensation to skip" data={stuck.length ? stuck : saga.steps.map((s) => s.name)} value={step} onChange={setStep} data-testid="action-step" />
        ) : null}
        <Textarea
          label={reasonRequired ? 'Reason' : 'Reason (optional)'}
          placeholder="Why? (recorded with your key in the saga history)"
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          autosize
          minRows={2}
          data-autofocus
          data-testid="action-reason"
        />
        {canConfigure ? (
          <>
            <Checkbox label="Replace the failed task's config" checked={replaceConfig} onChange={(e) => setReplaceConfig(e.currentTarget.checked)} data-testid="action-replace-config" />
            {replaceConfig ? (
              <JsonInput label="Config (JSON)" value={config} onChange={setConfig} validationError="Invalid JSON" formatOnBlur autosize minRows={4} maxRows={16} data-testid="action-config" />
            ) : null}
          </>
        ) : null}
        {error ? (
          <Alert color="red" title="Refused" data-testid="action-error">
            {error}
          </Alert>
        ) : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Close
          </Button>
          <Button color={action === 'cancel' || action === 'compensate' ? 'red' : 'blue'} loading={busy} onClick={submit} data-testid="action-confirm">
            {CONFIRM[action]}
            {action === 'skip' && step ? ` (${step})` : ''}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
