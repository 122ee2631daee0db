import s from "./SignIn.module.css";

/** Shown when the build has no deployment URL and no config.json says one. */
export function NotConfigured() {
  return (
    <main className={s.wrap}>
      <div className={s.card} role="alert">
        <h1>tina is not connected to a deployment</h1>
        <p className={s.lead}>
          Build the dashboard with <code>VITE_CONVEX_URL=https://&lt;your-deployment&gt;.convex.cloud</code>, or put a{" "}
          <code>config.json</code> with <code>{'{"convexUrl": "https://…"}'}</code> next to <code>index.html</code>.
        </p>
      </div>
    </main>
  );
}
