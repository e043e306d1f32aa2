// The fan-out benchmark's peer: Amplify's AppSync simulator with one NONE data source.
//
// Serves the gateway's own publish mutation (publishProductChanged, the same arguments
// and selection) and the subscription bound to it, so benchmarks/fanout.py can send the
// same payload, with the same client code, to both. Usage: node simulator.js PORT API_KEY
// ACCESS_KEY_ID. Prints "ready" once it listens; stops on SIGINT or SIGTERM.
"use strict";

const { AmplifyAppSyncSimulator } = require("@aws-amplify/amplify-appsync-simulator");

const [port, apiKey, accessKeyId] = process.argv.slice(2);

const schema = `
type Product @aws_api_key @aws_iam {
  id: ID!
  sku: String!
  name: String!
  description: String!
  category: String!
  priceCents: Int!
  currency: String!
  stock: Int!
  version: Int!
  updatedAt: AWSDateTime!
}

type Query {
  ping: String
}

type Mutation {
  publishProductChanged(id: ID!, sku: String!, name: String!, description: String!,
    category: String!, priceCents: Int!, currency: String!, stock: Int!, version: Int!,
    updatedAt: AWSDateTime!): Product @aws_iam
}

type Subscription {
  onProductChanged(id: ID, category: String): Product
    @aws_subscribe(mutations: ["publishProductChanged"]) @aws_api_key
}
`;

const simulator = new AmplifyAppSyncSimulator({ port: Number(port), wsPort: Number(port) });
simulator.init({
  schema: { content: schema },
  dataSources: [{ type: "NONE", name: "NoneSource" }],
  resolvers: [
    {
      kind: "UNIT",
      typeName: "Mutation",
      fieldName: "publishProductChanged",
      dataSourceName: "NoneSource",
      requestMappingTemplate:
        '{"version": "2018-05-29", "payload": $util.toJson($context.arguments)}',
      responseMappingTemplate: "$util.toJson($context.result)",
    },
  ],
  appSync: {
    name: "gateway-bench-peer",
    apiKey,
    defaultAuthenticationType: { authenticationType: "API_KEY" },
    additionalAuthenticationProviders: [{ authenticationType: "AWS_IAM" }],
    authAccessKeyId: accessKeyId,
    accountId: "123456789012",
    authRoleName: "bench",
    unAuthRoleName: "bench-unauth",
  },
});

simulator.start().then(() => {
  process.stdout.write("ready\n");
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    simulator.stop().finally(() => process.exit(0));
  });
}
