/** A host on this machine: `localhost` (and its subdomains), 127.0.0.0/8, or `[::1]`. */
function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(hostname) ||
    hostname === '[::1]'
  );
}

/**
 * Why the endpoint deserves a warning before a credential goes to it, or undefined. A link can set `?endpoint=`, so
 * a crafted one would send the key pasted into this page to a server of the link's author: anything other than
 * this page's own origin or this machine is named.
 */
export function endpointWarning(endpoint: string, pageOrigin: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `The endpoint ${endpoint} is not a URL.`;
  }
  if (url.origin === pageOrigin || isLoopback(url.hostname)) return undefined;
  return `Requests, and the key you enter here, go to ${url.origin}: neither this page's server nor this machine. Connect only if you trust it.`;
}
