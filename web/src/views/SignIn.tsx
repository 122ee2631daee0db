// Sign in, or create an account: the first account of a deployment becomes its owner;
// everyone after that needs an invite code from the owner.
import { useAuthActions } from "@convex-dev/auth/react";
import { useState, type FormEvent } from "react";
import { Button, ui } from "../components/ui";
import { signInErrorMessage } from "../lib/errors";
import s from "./SignIn.module.css";

export const PASSWORD_MIN = 10;

export type Flow = "signIn" | "signUp";

/** What is wrong with the form before it is sent, or null. */
export function signInFormProblem(flow: Flow, email: string, password: string): string | null {
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) return "Enter your email address.";
  if (flow === "signUp" && password.length < PASSWORD_MIN) return `Choose a password of at least ${PASSWORD_MIN} characters.`;
  if (password === "") return "Enter your password.";
  return null;
}

export function SignIn() {
  const { signIn } = useAuthActions();
  const [flow, setFlow] = useState<Flow>("signIn");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [inviteCode, setInviteCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problem = signInFormProblem(flow, email, password);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn("password", {
        email: email.trim(),
        password,
        flow,
        ...(flow === "signUp" && name.trim() ? { name: name.trim() } : {}),
        ...(flow === "signUp" && inviteCode.trim() ? { inviteCode: inviteCode.trim() } : {}),
      });
    } catch (err) {
      setError(signInErrorMessage(err, flow));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className={s.wrap}>
      <form className={s.card} onSubmit={submit} aria-label={flow === "signIn" ? "Sign in" : "Create an account"} noValidate>
        <h1 className={s.brand}>
          <img src="./favicon.svg" alt="" width={28} height={28} />
          tina
        </h1>
        <p className={s.lead}>
          {flow === "signIn"
            ? "Sign in to see and steer your orchestrations."
            : "The first account of a deployment becomes its owner. Everyone else needs an invite code from the owner."}
        </p>
        <label className={ui.field}>
          Email
          <input className={ui.input} type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} name="email" required />
        </label>
        <label className={ui.field}>
          Password
          <input
            className={ui.input}
            type="password"
            autoComplete={flow === "signIn" ? "current-password" : "new-password"}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            name="password"
            required
            minLength={flow === "signUp" ? PASSWORD_MIN : undefined}
          />
        </label>
        {flow === "signUp" && (
          <>
            <label className={ui.field}>
              Name (optional)
              <input className={ui.input} autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} name="name" />
            </label>
            <label className={ui.field}>
              Invite code (not needed for the first account)
              <input className={ui.input} autoComplete="off" value={inviteCode} onChange={(e) => setInviteCode(e.target.value)} name="inviteCode" />
            </label>
          </>
        )}
        {error && (
          <p className={s.error} role="alert">
            {error}
          </p>
        )}
        <Button kind="primary" type="submit" disabled={busy}>
          {busy ? "One moment…" : flow === "signIn" ? "Sign in" : "Create account"}
        </Button>
        <button
          type="button"
          className={s.switch}
          onClick={() => {
            setFlow(flow === "signIn" ? "signUp" : "signIn");
            setError(null);
          }}
        >
          {flow === "signIn" ? "New here? Create an account" : "Have an account? Sign in"}
        </button>
      </form>
    </main>
  );
}

export function Splash({ text }: { text: string }) {
  return (
    <div className={s.splash} role="status" aria-live="polite">
      {text}
    </div>
  );
}

export const signInStyles = s;
