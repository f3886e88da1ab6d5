import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../http/problem.docs';
import { MinRole, Principal } from './auth.types';
import { Caller } from './principal.decorator';

export class CallerDto {
  @ApiProperty({ description: 'the key id (`admin` for the ADMIN_API_KEY)' }) keyId: string;
  @ApiProperty({ enum: ['client', 'operator', 'admin'] }) role: string;
  @ApiPropertyOptional({ description: "the key's tenant; absent for the admin key (every tenant)" }) tenantId?: string;
}

/**
 * Who the caller is: tools (the console, the CLI) show only what the key's role allows without
 * probing routes that would be refused. Agent keys get 403, like on every route but theirs.
 */
@ApiTags('tenants')
@ApiBearerAuth()
@ApiProblems([403, 'an agent key'])
@MinRole('client')
@Controller('v1')
export class MeController {
  @Get('me')
  @ApiOperation({ summary: 'Describe the calling key', description: 'The role and tenant of the API key that makes the request.' })
  @ApiOkResponse({ type: CallerDto })
  getCaller(@Caller() caller: Principal): CallerDto {
    return { keyId: caller.keyId, role: caller.role, ...(caller.tenantId ? { tenantId: caller.tenantId } : {}) };
  }
}
