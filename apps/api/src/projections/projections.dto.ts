import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export const PROJECTION_STATUSES = ['LIVE', 'CATCHING_UP', 'REBUILDING', 'FAILED'] as const;

export class ProjectionStatusDto {
  @ApiProperty({ example: 'agents' }) name: string;
  @ApiProperty({ description: 'global position of the last event applied' }) position: number;
  @ApiProperty({ description: 'events in the log not applied yet (during a rebuild: not yet replayed by the rebuild)' }) lag: number;
  @ApiProperty({ enum: PROJECTION_STATUSES }) status: (typeof PROJECTION_STATUSES)[number];
  @ApiPropertyOptional({ description: 'why the projection FAILED' }) lastError?: string;
}
