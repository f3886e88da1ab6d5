import { Provider, Type } from '@nestjs/common';

/** Controllers and providers of the v1 routes beyond tenants and operations. */
export const API_CONTROLLERS: Type<unknown>[] = [];
export const API_PROVIDERS: Provider[] = [];
