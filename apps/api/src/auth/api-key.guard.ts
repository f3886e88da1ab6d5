import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Request } from 'express';
import { forbidden, problem, ProblemException } from '../http/problem';
import { ApiKeysService } from './api-keys.service';
import { Principal, PUBLIC_KEY, Role, ROLE_RANK, ROLES_KEY } from './auth.types';

export type AuthedRequest = Request & { principal: Principal };

/** `Authorization: Bearer <key>` on every route not marked @Public; then the route's lowest role. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal = match ? await this.keys.authenticate(match[1]) : undefined;
    if (!principal) throw new ProblemException(problem(401, match ? 'unknown or revoked api key' : 'missing api key (Authorization: Bearer <key>)'));
    req.principal = principal;
    const needed = this.reflector.getAllAndOverride<Role>(ROLES_KEY, targets) ?? 'client';
    // The agent role is outside the ranking: agent routes take agent keys only, agent keys call nothing else.
    if (needed === 'agent' || principal.role === 'agent') {
      if (principal.role === needed) return true;
      throw forbidden(needed === 'agent' ? `only agent keys may call the /v1/agent routes; the key has ${principal.role}` : 'an agent key may call only the /v1/agent routes');
    }
    if (ROLE_RANK[principal.role] < ROLE_RANK[needed]) throw forbidden(`this route needs the ${needed} role; the key has ${principal.role}`);
    return true;
  }
}
