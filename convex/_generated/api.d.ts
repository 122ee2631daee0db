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
import type * as actions from "../actions.js";
import type * as audit from "../audit.js";
import type * as auth from "../auth.js";
import type * as crons from "../crons.js";
import type * as documents from "../documents.js";
import type * as events from "../events.js";
import type * as functions from "../functions.js";
import type * as http from "../http.js";
import type * as model_actions from "../model/actions.js";
import type * as model_audit from "../model/audit.js";
import type * as model_auth from "../model/auth.js";
import type * as model_checks from "../model/checks.js";
import type * as model_codes from "../model/codes.js";
import type * as model_documents from "../model/documents.js";
import type * as model_errors from "../model/errors.js";
import type * as model_messaging from "../model/messaging.js";
import type * as model_needKinds from "../model/needKinds.js";
import type * as model_needs from "../model/needs.js";
import type * as model_nodes from "../model/nodes.js";
import type * as model_notify from "../model/notify.js";
import type * as model_notifyAnswer from "../model/notifyAnswer.js";
import type * as model_notifyKinds from "../model/notifyKinds.js";
import type * as model_orchestrations from "../model/orchestrations.js";
import type * as model_prompts from "../model/prompts.js";
import type * as model_redact from "../model/redact.js";
import type * as model_routes from "../model/routes.js";
import type * as model_teamMessages from "../model/teamMessages.js";
import type * as model_teams from "../model/teams.js";
import type * as model_usage from "../model/usage.js";
import type * as model_users from "../model/users.js";
import type * as model_validators from "../model/validators.js";
import type * as needs from "../needs.js";
import type * as nodes from "../nodes.js";
import type * as notify from "../notify.js";
import type * as notifyNode from "../notifyNode.js";
import type * as orchestrations from "../orchestrations.js";
import type * as presence from "../presence.js";
import type * as prompts from "../prompts.js";
import type * as teams from "../teams.js";
import type * as usage from "../usage.js";
import type * as users from "../users.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  actions: typeof actions;
  audit: typeof audit;
  auth: typeof auth;
  crons: typeof crons;
  documents: typeof documents;
  events: typeof events;
  functions: typeof functions;
  http: typeof http;
  "model/actions": typeof model_actions;
  "model/audit": typeof model_audit;
  "model/auth": typeof model_auth;
  "model/checks": typeof model_checks;
  "model/codes": typeof model_codes;
  "model/documents": typeof model_documents;
  "model/errors": typeof model_errors;
  "model/messaging": typeof model_messaging;
  "model/needKinds": typeof model_needKinds;
  "model/needs": typeof model_needs;
  "model/nodes": typeof model_nodes;
  "model/notify": typeof model_notify;
  "model/notifyAnswer": typeof model_notifyAnswer;
  "model/notifyKinds": typeof model_notifyKinds;
  "model/orchestrations": typeof model_orchestrations;
  "model/prompts": typeof model_prompts;
  "model/redact": typeof model_redact;
  "model/routes": typeof model_routes;
  "model/teamMessages": typeof model_teamMessages;
  "model/teams": typeof model_teams;
  "model/usage": typeof model_usage;
  "model/users": typeof model_users;
  "model/validators": typeof model_validators;
  needs: typeof needs;
  nodes: typeof nodes;
  notify: typeof notify;
  notifyNode: typeof notifyNode;
  orchestrations: typeof orchestrations;
  presence: typeof presence;
  prompts: typeof prompts;
  teams: typeof teams;
  usage: typeof usage;
  users: typeof users;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
