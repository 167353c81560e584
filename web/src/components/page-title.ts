import { useEffect, useRef } from 'preact/hooks';

let firstPage = true;

/**
 * Sets the document title and, from the second page on, moves the focus to the page's heading,
 * so a keyboard or screen-reader user lands at the top of the new page. Returns the heading's ref.
 */
export function usePageTitle(title: string) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · openkvs`;
  }, [title]);
  useEffect(() => {
    if (firstPage) firstPage = false;
    else heading.current?.focus();
  }, []);
  return heading;
}
