/** The one STS call berth makes: who the credentials in use belong to. */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

import { clientConfig, prepareClient, type AwsConnection } from './clients.js';

export interface CallerIdentity {
  account: string;
  arn: string;
}

export interface StsApi {
  getCallerIdentity(): Promise<CallerIdentity>;
  destroy(): void;
}

export function createStsApi(connection: AwsConnection): StsApi {
  const client = prepareClient(new STSClient(clientConfig(connection)), 'sts', connection);
  return {
    async getCallerIdentity() {
      const out = await client.send(new GetCallerIdentityCommand({}));
      return { account: out.Account ?? '', arn: out.Arn ?? '' };
    },
    destroy: () => client.destroy(),
  };
}
