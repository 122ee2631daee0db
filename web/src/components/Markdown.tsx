// Markdown written by agents and planners, shown safely. Raw HTML is shown as text, never
// rendered (react-markdown without rehype-raw turns it into text); nothing runs; a link opens
// only after the operator has read its full address and confirmed, and only for http(s) and
// mailto; images are never loaded from the network (their description is shown instead).
import { useCallback, useId, useState, type ReactNode } from "react";
import { createPortal } from "react-dom";
import ReactMarkdown, { type Components, type ExtraProps } from "react-markdown";
import remarkGfm from "remark-gfm";
import { openableUrl } from "../lib/links";
import { Button, Dialog, cx, ui } from "./ui";
import s from "./markdown.module.css";

const NOT_OPENED = "not a link tina opens: only http, https and mailto addresses open";

/** A link as a button: tapping it asks before anything opens. */
export function ConfirmLink({ href, children }: { href: string | null | undefined; children: ReactNode }) {
  const [asking, setAsking] = useState(false);
  const titleId = useId();
  const close = useCallback(() => setAsking(false), []);
  const url = openableUrl(href);
  if (url === null) {
    return (
      <span className={s.inert} title={NOT_OPENED} data-testid="md-inert-link">
        {children}
      </span>
    );
  }
  return (
    <>
      <button type="button" className={s.link} onClick={() => setAsking(true)} aria-haspopup="dialog" title={url} data-testid="md-link">
        {children}
      </button>
      {/* In a portal: the link sits inside a paragraph, which cannot hold a dialog. */}
      {asking &&
        createPortal(
          <Dialog title="Open this link?" labelledBy={titleId} onClose={close}>
            <p>It was written by an agent or a planner. It opens in a new tab, outside tina:</p>
            <p className={s.url} data-testid="md-link-url">
              {url}
            </p>
            <div className={ui.dialogButtons}>
              <Button onClick={() => setAsking(false)}>Cancel</Button>
              <a
                className={cx(ui.button, ui.primary, s.openLink)}
                href={url}
                target="_blank"
                rel="noopener noreferrer"
                referrerPolicy="no-referrer"
                onClick={() => setAsking(false)}
                data-testid="md-link-open"
              >
                Open
              </a>
            </div>
          </Dialog>,
          document.body,
        )}
    </>
  );
}

type Props<T extends keyof React.JSX.IntrinsicElements> = React.JSX.IntrinsicElements[T] & ExtraProps;

/** A Markdown heading one level per `offset` deeper, so a plan's "# Title" fits under the page's own headings. */
function heading(level: number, offset: number) {
  const Tag = `h${Math.min(6, level + offset)}` as "h1";
  function Heading({ node: _node, ...rest }: Props<"h1">) {
    return <Tag {...rest} />;
  }
  return Heading;
}

function components(headingOffset: number): Components {
  return {
    a: ({ href, children }: Props<"a">) => <ConfirmLink href={href}>{children}</ConfirmLink>,
    img: ({ src, alt }: Props<"img">) => {
      const url = typeof src === "string" ? openableUrl(src) : null;
      return (
        <span className={s.image} data-testid="md-image">
          <span aria-hidden>▧ </span>
          image{alt ? `: ${alt}` : " (no description)"}
          {url !== null && (
            <>
              {" "}
              (<ConfirmLink href={url}>open the image</ConfirmLink>)
            </>
          )}
        </span>
      );
    },
    table: ({ node: _node, ...rest }: Props<"table">) => (
      <div className={s.tableWrap}>
        <table {...rest} />
      </div>
    ),
    h1: heading(1, headingOffset),
    h2: heading(2, headingOffset),
    h3: heading(3, headingOffset),
    h4: heading(4, headingOffset),
    h5: heading(5, headingOffset),
    h6: heading(6, headingOffset),
  };
}

const BY_OFFSET = new Map<number, Components>();
function componentsFor(offset: number): Components {
  let c = BY_OFFSET.get(offset);
  if (c === undefined) {
    c = components(offset);
    BY_OFFSET.set(offset, c);
  }
  return c;
}

const REMARK = [remarkGfm];

/**
 * Renders `text` as GitHub-flavoured Markdown, safely. `headingOffset` pushes its headings down
 * (2: a "# Title" becomes an h3).
 */
export function Markdown({ text, headingOffset = 2, className, compact }: { text: string; headingOffset?: number; className?: string; compact?: boolean }) {
  return (
    <div className={cx(s.markdown, compact && s.compact, className)} data-testid="markdown">
      <ReactMarkdown remarkPlugins={REMARK} components={componentsFor(headingOffset)} urlTransform={(url) => openableUrl(url) ?? ""}>
        {text}
      </ReactMarkdown>
    </div>
  );
}
