import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, registerDecorator } from 'class-validator';
import { MAX_START_DELAY_MS } from '@app/sagas';
import { OptionalNotNull } from '../http/fields';

/** At most a year (and a day of slack) ahead. */
const WithinAYear = (): PropertyDecorator => (target: object, propertyName: string | symbol) =>
  registerDecorator({
    name: 'withinAYear',
    target: target.constructor,
    propertyName: propertyName as string,
    options: { message: '$property must be at most one year ahead' },
    validator: { validate: (value: unknown) => typeof value !== 'string' || !(Date.parse(value) > Date.now() + MAX_START_DELAY_MS) },
  });

/** What every start body may add: how a final failure is handled, and when the saga starts. */
export class SagaStartOptionsDto {
  @ApiPropertyOptional({
    enum: ['compensate', 'suspend'],
    default: 'compensate',
    description: '`suspend`: a step that fails for good suspends the saga (SUSPENDED) for an operator to resume or compensate',
  })
  @OptionalNotNull()
  @IsIn(['compensate', 'suspend'])
  onFailure?: 'compensate' | 'suspend';

  @ApiPropertyOptional({ format: 'date-time', description: 'the saga is SCHEDULED until then (at most one year ahead)', example: '2030-01-01T09:00:00Z' })
  @OptionalNotNull()
  @IsISO8601({ strict: true })
  @WithinAYear()
  startAt?: string;
}
