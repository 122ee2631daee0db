/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as crons from "../crons.js";
import type * as env from "../env.js";
import type * as errors from "../errors.js";
import type * as http from "../http.js";
import type * as identity from "../identity.js";
import type * as messages from "../messages.js";
import type * as records from "../records.js";
import type * as ticks from "../ticks.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  crons: typeof crons;
  env: typeof env;
  errors: typeof errors;
  http: typeof http;
  identity: typeof identity;
  messages: typeof messages;
  records: typeof records;
  ticks: typeof ticks;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
