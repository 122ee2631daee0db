// Entry point: find the deployment, connect, render.
import { ConvexAuthProvider } from "@convex-dev/auth/react";
import { ConvexReactClient } from "convex/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { resolveConfig } from "./config";
import { NowProvider } from "./hooks/useNow";
import { NotConfigured } from "./views/NotConfigured";
import "./styles/global.css";

async function start(): Promise<void> {
  const root = createRoot(document.getElementById("root")!);
  const config = await resolveConfig(fetch, document.baseURI, import.meta.env.VITE_CONVEX_URL as string | undefined);
  if (config === undefined) {
    root.render(<NotConfigured />);
    return;
  }
  const client = new ConvexReactClient(config.convexUrl);
  // Tests and the latency benchmark read this to know when the page is connected.
  (window as unknown as { __tina?: object }).__tina = { convexUrl: config.convexUrl, source: config.source, client };
  root.render(
    <StrictMode>
      <ConvexAuthProvider client={client}>
        <NowProvider>
          <App />
        </NowProvider>
      </ConvexAuthProvider>
    </StrictMode>,
  );
}

void start();
