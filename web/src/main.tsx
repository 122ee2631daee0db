// Entry point: find the deployment, connect, render.
import { ConvexAuthProvider } from "@convex-dev/auth/react";
import { ConvexReactClient } from "convex/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { resolveConfig } from "./config";
import { NowProvider } from "./hooks/useNow";
import { LiveOnly, OfflineStart } from "./pwa/Connectivity";
import { listenForWorkerLinks, registerServiceWorker } from "./pwa/register";
import { NotConfigured } from "./views/NotConfigured";
import "./styles/global.css";

// A tapped notification's link arrives from the service worker as a message, whatever the page shows.
listenForWorkerLinks();
void registerServiceWorker();

const root = createRoot(document.getElementById("root")!);

async function start(): Promise<void> {
  const config = await resolveConfig(fetch, document.baseURI, import.meta.env.VITE_CONVEX_URL as string | undefined);
  if (config === undefined) {
    if (!navigator.onLine) {
      // Opened from the home screen with no network: the shell came from the service worker's
      // cache, config.json never does. Start for real once the network is back.
      root.render(<OfflineStart />);
      window.addEventListener("online", () => void start(), { once: true });
      return;
    }
    root.render(<NotConfigured />);
    return;
  }
  const client = new ConvexReactClient(config.convexUrl);
  // Tests and the latency benchmark read this to know when the page is connected.
  (window as unknown as { __tina?: object }).__tina = { convexUrl: config.convexUrl, source: config.source, client };
  root.render(
    <StrictMode>
      <LiveOnly client={client}>
        <ConvexAuthProvider client={client}>
          <NowProvider>
            <App />
          </NowProvider>
        </ConvexAuthProvider>
      </LiveOnly>
    </StrictMode>,
  );
}

void start();
