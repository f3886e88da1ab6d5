import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Matches } from 'class-validator';
import { BoundedInt, BoundedString, Nested, StringList } from '../http/fields';

export class QuotaDto {
  @ApiProperty({ minimum: 0, maximum: 1_000_000_000 })
  @BoundedInt(0, 1_000_000_000)
  cpuMillis: number;

  @ApiProperty({ minimum: 0, maximum: 1_000_000_000 })
  @BoundedInt(0, 1_000_000_000)
  memoryMb: number;
}

export class CreateTenantDto {
  @ApiProperty({ pattern: '^[a-z0-9-]{1,40}$', example: 'acme' })
  @IsString()
  @Matches(/^[a-z0-9-]{1,40}$/, { message: 'id must be a slug of 1 to 40 characters [a-z0-9-]' })
  id: string;

  @ApiProperty({ example: 'Acme Corp' })
  @BoundedString(200)
  name: string;

  @ApiProperty({ type: QuotaDto })
  @Nested(() => QuotaDto)
  quota: QuotaDto;

  @ApiProperty({ type: [String], example: ['read', 'write'] })
  @StringList(200, 100)
  allowedPermissions: string[];
}

export class TenantDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: QuotaDto }) quota: QuotaDto;
  @ApiProperty({ type: [String] }) allowedPermissions: string[];
  @ApiProperty({ type: QuotaDto, description: 'resources currently reserved by agents' }) usage: QuotaDto;
}

export class CreateApiKeyDto {
  @ApiProperty({ example: 'acme' })
  @IsString()
  @Matches(/^[a-z0-9-]{1,40}$/, { message: 'tenantId must be a tenant slug' })
  tenantId: string;

  @ApiProperty({ enum: ['client', 'operator', 'admin'] })
  @IsIn(['client', 'operator', 'admin'])
  role: 'client' | 'operator' | 'admin';

  @ApiProperty({ example: 'ci pipeline' })
  @BoundedString(200)
  name: string;
}

export class ApiKeyCreatedDto {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'the secret; shown only in this response' }) key: string;
  @ApiProperty() tenantId: string;
  @ApiProperty({ enum: ['client', 'operator', 'admin'] }) role: string;
  @ApiProperty() name: string;
}
