/** `linea view` as the tests start it: the URL it prints once it listens. */
import type { ResultPromise } from 'execa';

export function viewUrl(child: ResultPromise, seconds = 60): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /linea view: (http\S+)/.exec(text);
      if (match) resolve(match[1]!);
    });
    void child.then(() => reject(new Error(`linea view exited: ${text}`)));
    setTimeout(() => reject(new Error(`linea view printed no URL in ${seconds} s: ${text}`)), seconds * 1000).unref();
  });
}
