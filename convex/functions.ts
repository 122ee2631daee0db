// The only builders public functions use: authorization lives here, in one place.
//   nodeQuery / nodeMutation      called by a laptop's daemon with `nodeToken`
//   viewerQuery                   a signed-in dashboard user
//   operatorMutation              a signed-in dashboard user allowed to act
import { customMutation, customQuery } from "convex-helpers/server/customFunctions";
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { authenticateNode, authenticateUser } from "./model/auth";

export const nodeQuery = customQuery(query, {
  args: { nodeToken: v.string() },
  input: async (ctx, { nodeToken }) => ({ ctx: { node: await authenticateNode(ctx, nodeToken) }, args: {} }),
});

export const nodeMutation = customMutation(mutation, {
  args: { nodeToken: v.string() },
  input: async (ctx, { nodeToken }) => ({ ctx: { node: await authenticateNode(ctx, nodeToken) }, args: {} }),
});

export const viewerQuery = customQuery(query, {
  args: {},
  input: async (ctx) => ({ ctx: { user: await authenticateUser(ctx) }, args: {} }),
});

export const operatorMutation = customMutation(mutation, {
  args: {},
  input: async (ctx) => ({ ctx: { user: await authenticateUser(ctx) }, args: {} }),
});
